"""Presentation: figures (``plots``, matplotlib, drawn from result objects), the HTML page (``html``) and
terminal tables (``console``). Nothing here computes a statistic."""
