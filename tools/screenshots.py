"""Retake the screenshots the README and the docs show (docs/img/*.png), in headless Chromium.

    python tools/screenshots.py [--report runs/default/report/report.html]

- ``docs/img/report.png``: the first screen of a run's report.html (default: the default run's), 1200 px wide.
- ``docs/img/docs-home.png``: the home page of the documentation site, built here with ``mkdocs build``, 1280 px
  wide (Material shows its navigation from 1220 px).

The report is copied to a temporary folder first, so the browser never writes beside a run's outputs. The PNGs are
reduced to a 256-colour palette (text and flat colours survive it; the files shrink about threefold).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from headless import Browser, screenshot  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"


def optimise(png: Path) -> None:
    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


def shoot(browser: Browser, page: Path, out: Path) -> None:
    screenshot(browser, page, out)
    optimise(out)
    print(f"{out.relative_to(ROOT)}: {out.stat().st_size / 1024:.0f} KiB, from {page}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", type=Path, default=ROOT / "runs" / "default" / "report" / "report.html")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)
    if not args.report.is_file():
        sys.exit(f"{args.report}: no report; run `edgeport run default` first or pass --report")

    with tempfile.TemporaryDirectory(prefix="edgeport-shots-") as tmp:
        tmp = Path(tmp)
        report = tmp / "report" / "report.html"  # report.html embeds its plots, so the file alone is enough
        report.parent.mkdir()
        shutil.copy2(args.report, report)
        browser = Browser(args.width, args.height)
        try:
            shoot(browser, report, IMG / "report.png")
            site = tmp / "site"  # built after report.png is written: the home page shows it
            subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site)],
                           cwd=ROOT, check=True)
            browser.call("Emulation.setDeviceMetricsOverride", session=True, width=1280, height=args.height,
                         deviceScaleFactor=1, mobile=False)
            shoot(browser, site / "index.html", IMG / "docs-home.png")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
