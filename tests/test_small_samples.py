"""Small-sample metrics that mislead (issue 12, class 8): below the sizes where KID means
something the output warns, in the table's stderr and in --json; KID's subset size and count
are options, as in torch-fidelity."""

from __future__ import annotations

import json

import pytest

from helpers import assert_clean_error, cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "real"
    r = cli("data", "export", out, "--split", "test", "--n", "200")
    assert r.exit_code == 0, r.stderr
    return out


def fid_json(*args):
    r = cli("fid", *args, "--json", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout), r.stderr


def test_kid_of_200_images_against_themselves_warns(folder):
    """The sweep's case: -73 (x1000) with no word. The number stays (it is the estimator's),
    but the output says why it is meaningless."""
    result, err = fid_json(folder, folder, "--metrics", "kid")
    assert result["kid"] < 0 and result["kid_subset_size"] == 200
    warned = " ".join(result["warnings"])
    assert "only 200 samples on the smaller side, fewer than the subset size 1000" in warned
    assert "samples and reference are the same images" in warned
    assert "genmnist: warning: KID: only 200 samples" in err


def test_kid_subset_options(folder):
    result, _ = fid_json(folder, "mnist-test", "--metrics", "kid", "--kid-subset-size", "50",
                         "--kid-subsets", "7")
    assert (result["kid_subset_size"], result["kid_subsets"]) == (50, 7)
    assert not any("fewer than the subset size" in w for w in result["warnings"])
    assert result["kid_std"] > 0  # subsets of 50 out of 200 differ: a real spread
    again, _ = fid_json(folder, "mnist-test", "--metrics", "kid", "--kid-subset-size", "50",
                        "--kid-subsets", "7")
    assert again["kid"] == result["kid"]  # seeded subsets


@pytest.mark.parametrize("args, fragment", [
    (["--kid-subset-size", "1"], "Invalid value for '--kid-subset-size'"),
    (["--kid-subsets", "0"], "Invalid value for '--kid-subsets'"),
])
def test_kid_options_are_checked(folder, args, fragment):
    assert_clean_error(cli("fid", folder, *args), fragment)


def test_enough_samples_give_no_warning(folder):
    result, err = fid_json(folder, "mnist-test", "--metrics", "kid", "--kid-subset-size", "100")
    assert result["warnings"] == [] and "warning" not in err
