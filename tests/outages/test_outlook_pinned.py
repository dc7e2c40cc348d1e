"""The conformal bound at its edges: k = ceil(q (n + 1)) of n, written out."""

from outages.outlook import conformal_bound


def test_the_bound_at_k_one_and_k_n():
    assert conformal_bound([7.0], 0.5) == 7.0  # k = ceil(1.0) = 1 of 1
    assert conformal_bound([9.0, 3.0], 0.3) == 3.0  # k = ceil(0.9) = 1
    assert conformal_bound([9.0, 3.0], 0.6) == 9.0  # k = ceil(1.8) = 2 of 2
    assert conformal_bound([9.0, 3.0], 0.7) is None  # k = ceil(2.1) = 3 of 2
    assert conformal_bound([4.0, 1.0, 2.0], 0.5) == 2.0  # k = ceil(2.0) = 2: no float creep
