"""Statistics of populations: error EDFs (raw and complexity-normalised), KS tests, the empirical
bootstrap, RegNet fits, random-search efficiency and refinement. Pure functions: arrays in, arrays or
typed results (``dse.analysis.results``, ``dse.analysis.refine``) out; nothing here touches the store."""

from dse.analysis.bootstrap import bootstrap
from dse.analysis.edf import edf, edf_stats, ks_test, normalization_weights, weighted_quantile
from dse.analysis.fit import fit_error, fit_regnet
from dse.analysis.population import Population
from dse.analysis.refine import Evidence, Proposal, RefineResult, refine
from dse.analysis.results import (BootstrapPanel, Drawable, BootstrapResult, ComplexityView, Curves, EdfComparison,
                                  EdfSummary,
                                  FitResult, FitRow, KsPair, Normalization, SearchEfficiency, SearchPoint,
                                  bootstrap_panel, compare_edfs, compare_search, normalize)
from dse.analysis.search import search_efficiency

__all__ = ["BootstrapPanel", "BootstrapResult", "Drawable", "ComplexityView", "Curves", "EdfComparison", "EdfSummary",
           "Evidence",
           "FitResult", "FitRow", "KsPair", "Normalization", "Population", "Proposal", "RefineResult",
           "SearchEfficiency", "SearchPoint", "bootstrap", "bootstrap_panel", "compare_edfs", "compare_search", "edf",
           "edf_stats", "fit_error", "fit_regnet", "ks_test", "normalization_weights", "normalize", "refine",
           "search_efficiency", "weighted_quantile"]
