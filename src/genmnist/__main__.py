"""`python -m genmnist` (and `torchrun -m genmnist`) run the same CLI as the console script."""

from genmnist.cli import main

if __name__ == "__main__":
    main()
