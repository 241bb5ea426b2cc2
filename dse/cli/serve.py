"""``dse serve``: the study as a live web page while it trains (``dse.serve``)."""

from __future__ import annotations

import click

from dse.cli.main import cli, db_option
from dse.report.console import say


@cli.command()
@click.option("--port", type=int, default=8765, show_default=True, help="The port (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; any other than 127.0.0.1/localhost/::1 needs a token (made and "
                   "printed in the URL, or --token). Plain HTTP: across networks, use an SSH tunnel instead.")
@click.option("--token", default=None, help="The token requests must carry (?token=...), at least 16 characters.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--heavy-every", type=float, default=30.0, show_default=True,
              help="Seconds between recomputations of figures, the power simulation and report sections while "
                   "the store keeps changing (the tables follow every change).")
@click.option("--priority", type=click.Choice(["low", "normal"]), default="low", show_default=True,
              help="low: the lowest CPU priority (nice 19), so training beside it keeps the machine; normal: as "
                   "started (the page then keeps up on a busy machine).")
@db_option
def serve(port, host, token, open_browser, heavy_every, priority, db):
    """Serve the study as a web page that updates itself while dse train, dse compare --until-decided or dse
    budget-check write to the store (this process only reads it): progress and time left, the EDFs with their
    bands and KS tests, the power so far, undertraining warnings, the model table with each model's curve, and
    the report's sections. The JSON the page reads is under /api/ (status, edf, power, models, model, ...).
    Ctrl-C stops it.
    """
    import os
    from pathlib import Path

    # a viewer beside training: one thread for numerics and a lower priority, so training keeps the machine
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, "1")
    if priority == "low":
        try:
            os.nice(19)
        except (AttributeError, OSError):
            pass
    from dse.serve import make_server, url_of

    if not Path(db).exists():
        say(f"note: {db} does not exist yet; the page says so until a dse command creates it")
    srv = make_server(db, host=host, port=port, token=token, heavy_every=heavy_every)
    link = url_of(srv)
    say(f"serving {db} at {link} (read-only; Ctrl-C stops)")
    if open_browser:
        import webbrowser

        webbrowser.open(link)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        say("stopped")
    finally:
        srv.server_close()
