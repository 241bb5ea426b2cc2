"""Presentation for people: number formatting and terminal tables (plots and HTML come later)."""
