"""``dse serve``: the study as a live web page while it trains (its own room beside the CLI: the server, the route
table of views, and the page's HTML, script and style as packaged files)."""

from dse.serve.server import make_server, url_of
from dse.serve.views import ROUTES, View, Views

__all__ = ["ROUTES", "View", "Views", "make_server", "url_of"]
