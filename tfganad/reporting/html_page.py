"""Markdown → a standalone HTML page, with Python-Markdown (tables extension)."""

from __future__ import annotations

import html

import markdown

_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;font-size:12px}"
          "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}")


def markdown_to_html(text: str, title: str = "report") -> str:
    """A whole HTML page (title, style, body) from markdown text; raw HTML in the text is shown, not run.

    Args:
        text: markdown (headers, tables, images, lists, emphasis, code spans).
        title: the page's <title>.
    """
    md = markdown.Markdown(extensions=["tables"], output_format="html")
    # Names in a report (series, notes, paths) are text: escape any HTML in them rather than pass it through
    # (Python-Markdown's documented replacement for the removed safe_mode).
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    body = md.convert(text)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")
