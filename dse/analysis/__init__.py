"""Statistics of populations: error EDFs (raw and complexity-normalised), KS tests, the empirical
bootstrap, RegNet fits and random-search efficiency. Pure numpy/scipy functions: arrays in, arrays out."""

from dse.analysis.bootstrap import bootstrap
from dse.analysis.edf import edf, edf_stats, ks_test, normalization_weights, weighted_quantile
from dse.analysis.fit import fit_regnet, fit_error
from dse.analysis.search import search_efficiency

__all__ = ["bootstrap", "edf", "edf_stats", "fit_error", "fit_regnet", "ks_test", "normalization_weights",
           "search_efficiency", "weighted_quantile"]
