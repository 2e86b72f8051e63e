"""The Klantrapportage as a PDF (R23): the HTML report with A4 page rules, printed by a real renderer.

The page is the HTML report itself (same template, same charts, same words), with print rules added: A4,
a header on every page with service, month, SNO version and due date, page numbers ("pagina 2 van 5"),
and tables whose rows never split across pages. Two well-kept renderers can print it:

* **WeasyPrint** (PyPI, BSD; Pango underneath, a system library: ``PANGO_PACKAGES``, which
  deploy/Dockerfile installs): a project dependency, so every machine that installs the project and has
  Pango can make PDFs. Supports CSS paged media fully, margin boxes and ``counter(pages)`` included.
  The default.
* **Chromium** headless ``--print-to-pdf`` (Debian ``chromium``, installed by ``.ci/system-deps`` where
  the machine allows): used when asked for (``SNO_PDF_ENGINE=chromium``) or when WeasyPrint cannot be
  imported: not installed (ImportError), or installed without the Pango libraries it loads (OSError, as
  on python:3.11-slim). With neither, ``render_pdf`` raises ``PdfError``, one line saying what is
  missing and how to install it. Page margin boxes need Chromium 131 or later.

Measured on this project's 2-core machine (the golden April 2026 month, median of 3, after the first
render; ``import weasyprint`` 0.35 s): WeasyPrint 0.52–0.77 s per report and 58–64 KiB; Chromium
0.78–0.97 s and 257–301 KiB (a browser start per report). WeasyPrint is the default: a little faster,
files a fifth of the size, and installed with the project itself (pip), where Chromium is an OS package
that a machine may not have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sno.report.load import MonthReport
from sno.report.render import _public_month, html_month

__all__ = ["ENGINES", "PdfError", "chromium_path", "render_pdf"]

ENGINES = ("weasyprint", "chromium")


class PdfError(RuntimeError):
    """The PDF could not be made; the message is one line for the user."""


def chromium_path() -> str | None:
    """The Chromium binary, if one is installed (Debian: /usr/bin/chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _weasyprint_html() -> Any:
    """WeasyPrint's ``HTML`` class. Importing it loads Pango, GObject and HarfBuzz through cffi: without
    WeasyPrint this raises ImportError, without those libraries OSError ("cannot load library …")."""
    from weasyprint import HTML

    return HTML


def _weasyprint(html: str, weasy_html: Any) -> bytes:
    import logging

    # WeasyPrint logs every CSS property it does not support at WARNING; the report uses a few that
    # only the screen version needs (flex gaps, font-variant-numeric), which are harmless in print.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return weasy_html(string=html).write_pdf()  # type: ignore[no-any-return]


#: Headless Chromium on a machine with a closed network: without the background-networking flags it
#: tries Google's hosts at every start (and is refused). Shared with the tests that screenshot the page.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)


def _chromium(html: str, binary: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="sno-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        out = Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        done = subprocess.run(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={Path(tmp) / 'profile'}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise PdfError(f"Chromium made no PDF (exit {done.returncode}): {tail[0]}")
        return out.read_bytes()


#: The Debian packages WeasyPrint loads at import when installed from wheels (its "First steps" page:
#: libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0), and the font the print rules name.
PANGO_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core")


def _no_renderer(exc: BaseException) -> str:
    """One line for the user: why WeasyPrint cannot run, and the two ways to get a PDF."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    what = "is not installed" if isinstance(exc, ImportError) else "cannot load Pango"
    return (
        f"no PDF renderer: WeasyPrint {what} ({reason}) and Chromium is absent; install Pango "
        f"(Debian: apt-get install {' '.join(PANGO_PACKAGES)}) or install chromium and set "
        "SNO_PDF_ENGINE=chromium"
    )


def render_pdf(
    month: MonthReport, *, public: bool = False, lang: str = "nl", engine: str | None = None
) -> bytes:
    """The month's report as an A4 PDF (R23, R24); ``public`` as in every other format."""
    engine = engine or os.environ.get("SNO_PDF_ENGINE") or "weasyprint"
    if engine not in ENGINES:
        raise PdfError(f"unknown PDF engine {engine!r}; expected one of {', '.join(ENGINES)}")
    html = html_month(_public_month(month, public), public, lang, pdf=True)
    if engine == "weasyprint":
        try:
            weasy_html = _weasyprint_html()
        except (ImportError, OSError) as exc:
            # ImportError: WeasyPrint is not installed. OSError: it is, but the system libraries it loads
            # at import (Pango, GObject, HarfBuzz) are not: python:3.11-slim has none of them.
            binary = chromium_path()
            if binary is None:
                raise PdfError(_no_renderer(exc)) from None
            return _chromium(html, binary)
        return _weasyprint(html, weasy_html)
    binary = chromium_path()
    if binary is None:
        raise PdfError(
            "SNO_PDF_ENGINE=chromium, but no Chromium is installed (Debian: apt-get install chromium)"
        )
    return _chromium(html, binary)
