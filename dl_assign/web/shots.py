"""Drive the real page in headless Chromium: check it against the API, save the screenshots.

``python -m dl_assign.web.shots --store .models --out results/`` writes ``web.page.png`` (a
prediction with two models compared side by side), ``web.samples.png`` (a grid of sample
predictions on test images, each tile cut from the real page) and ``web.page.json`` / ``.md``
(through the one results writer): what was checked, so that the rubric can read it.

Checks, for every stored model version in turn: the class the page shows equals what
``/api/predict`` returns for the same image, model and version; each bar's height is its
probability times the plot height (max error in px); the bars are in descending order. Also: an
API error (a file that is not an image) is shown in the page in words. Chromium is Debian's
``/usr/bin/chromium`` (``$DL_ASSIGN_CHROMIUM`` to change), driven by Playwright; ``playwright
install`` is never needed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

PLOT_HEIGHT = 150  # px: app.js maps probability 0..1 to 0..150 px of bar height
CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str:
    return os.environ.get("DL_ASSIGN_CHROMIUM", CHROMIUM)


def browser_missing() -> str | None:
    """Why the browser check cannot run here (None when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[web]')"
    if not Path(chromium_path()).is_file():
        return f"no Chromium at {chromium_path()} (apt-get install chromium; never `playwright install`)"
    return None


def test_images(n: int = 6, root: Path | None = None) -> list[tuple[Path, str]]:
    """``n`` test-split images of the IP102-layout set, spread over the classes: ``(path, true class)``."""
    from dl_assign.data import ip102

    root = root or ip102.locate()
    classes = ip102.read_classes(root)
    items = ip102.read_split(root, "test", len(classes))
    by_class: dict[int, list[str]] = {}
    for name, label in items:
        by_class.setdefault(label, []).append(name)
    labels = sorted(by_class)
    step = max(1, len(labels) // n)
    chosen = [labels[i] for i in range(0, len(labels), step)][:n]
    return [(root / "images" / by_class[c][0], classes[c]) for c in chosen]


def _bars(card) -> list[dict]:
    return card.locator("rect.bar").evaluate_all(
        "els => els.map(e => ({cls: e.dataset.class, p: parseFloat(e.dataset.probability),"
                    " h: e.getBoundingClientRect().height}))")  # the height as drawn


def _select(page, values: list[str]) -> None:
    page.select_option("#models", values)


def _predict(page, n_cards: int, timeout_ms: float = 60_000) -> None:
    page.click("#predict")
    page.wait_for_function(
        f"document.querySelectorAll('#results .card.done, #results .card.failed').length === {n_cards}",
        timeout=timeout_ms)


def _face_photo() -> Path:
    """skimage's astronaut (a real portrait, shipped with scikit-image) as a JPEG in a temporary folder."""
    import tempfile

    from PIL import Image
    from skimage import data as skdata

    path = Path(tempfile.mkdtemp(prefix="dl-assign-shots-")) / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(path, "JPEG", quality=92)
    return path


def check_page(url: str, image: Path, out_dir: Path, samples: list[tuple[Path, str]] | None = None,
               *, compare: list[str] | None = None) -> dict:
    """Drive the page at ``url``; returns the measurements and writes the two screenshots into ``out_dir``."""
    import httpx
    from PIL import Image, ImageDraw
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    api = httpx.Client(base_url=url, timeout=120)
    listing = api.get("/api/models").json()["models"]
    options = [f"{m['name']}@{v['version']}" for m in listing for v in m["versions"]]
    if not options:
        raise RuntimeError(f"the store behind {url} holds no model: nothing to show")
    checks = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1180, "height": 760}, device_scale_factor=1)
            page.goto(url + "/")
            page.wait_for_function("document.querySelectorAll('#models option').length > 0", timeout=30_000)
            shown = page.eval_on_selector_all("#models option", "els => els.map(e => e.value)")
            labels = page.eval_on_selector_all("#models option", "els => els.map(e => e.textContent)")
            page.set_input_files("#file", str(image))
            page.wait_for_selector("#preview:not([hidden])")
            face_photo = _face_photo()
            uploaded = image
            for opt in options:  # every stored model version in turn
                model, version = opt.split("@")
                # a faces.* model classifies the face the front end finds: it gets a portrait, not a pest
                want_upload = face_photo if model.startswith("faces") else image
                if want_upload != uploaded:
                    page.set_input_files("#file", str(want_upload))
                    page.wait_for_selector("#preview:not([hidden])")
                    uploaded = want_upload
                _select(page, [opt])
                _predict(page, 1)
                card = page.locator("#results .card").first
                page_class = card.locator(".pred").inner_text().strip()
                bars = _bars(card)
                want = api.post("/api/predict", files={"file": (want_upload.name, want_upload.read_bytes())},
                                data={"model": model, "version": version, "top_k": str(len(bars) or 5)}).json()
                api_classes = [p["class"] for p in want.get("predictions", [])]
                height_err = max((abs(b["h"] - PLOT_HEIGHT * b["p"]) for b in bars), default=float("inf"))
                api_p_err = max((abs(b["p"] - q["probability"]) for b, q in zip(bars, want.get("predictions", []))),
                                default=float("inf"))
                failed = card.evaluate("e => e.classList.contains('failed')")
                checks.append({"option": opt, "page_class": page_class, "api_class": api_classes[:1],
                               "page_error": card.inner_text().strip() if failed else "",
                               "api_error": want.get("error", ""),
                               "class_agrees": bool(api_classes) and page_class == api_classes[0],
                               "bar_classes_agree": [b["cls"] for b in bars] == api_classes,
                               "bars": len(bars), "bar_height_error_px": height_err,
                               "bar_prob_error_vs_api": api_p_err,
                               "descending": all(a["h"] >= b["h"] for a, b in zip(bars, bars[1:]))})
            if uploaded != image:
                page.set_input_files("#file", str(image))
                page.wait_for_selector("#preview:not([hidden])")
            # two different models side by side: the page screenshot
            names = []
            not_faces = [o for o in options[::-1] if not o.startswith("faces")]  # the test image is not a face
            for opt in not_faces or options[::-1]:  # latest versions first
                if opt.split("@")[0] not in [n.split("@")[0] for n in names]:
                    names.append(opt)
            pair = compare or names[:2]
            _select(page, pair)
            _predict(page, len(pair))
            compared = page.locator("#results .card.done").count()
            page.screenshot(path=str(out_dir / "web.page.png"), full_page=True)
            # an API error, shown in words
            with tempfile.TemporaryDirectory() as tmp:
                bad = Path(tmp) / "not-an-image.txt"
                bad.write_text("this is not an image\n")
                page.set_input_files("#file", str(bad))
                _select(page, pair[:1])
                _predict(page, 1)
                error_text = page.locator("#error").inner_text().strip()
            error_shown = "not an image" in error_text
            # sample predictions on test images, each tile cut from the real page
            tiles = []
            for path, true_class in samples or []:
                page.set_input_files("#file", str(path))
                _select(page, pair[:1])
                _predict(page, 1)
                drop = Image.open(io.BytesIO(page.locator("#drop").screenshot()))
                card = Image.open(io.BytesIO(page.locator("#results .card").first.screenshot()))
                tile = Image.new("RGB", (drop.width + card.width + 10, max(drop.height, card.height) + 24), "white")
                tile.paste(drop, (0, 24))
                tile.paste(card, (drop.width + 10, 24))
                shown_class = page.locator("#results .card .pred").first.inner_text().strip()
                ImageDraw.Draw(tile).text((4, 4), f"{path.name}: true class {true_class!r}; page shows "
                                                  f"{shown_class!r}", fill=(20, 20, 20))
                tiles.append((tile, true_class == shown_class))
        finally:
            browser.close()
    samples_ok = 0
    if tiles:
        cols = 2
        w, h = max(t.width for t, _ in tiles), max(t.height for t, _ in tiles)
        rows = (len(tiles) + cols - 1) // cols
        grid = Image.new("RGB", (cols * w + (cols + 1) * 8, rows * h + (rows + 1) * 8), (235, 237, 241))
        for i, (t, _) in enumerate(tiles):
            grid.paste(t, (8 + (i % cols) * (w + 8), 8 + (i // cols) * (h + 8)))
        grid.save(out_dir / "web.samples.png", optimize=True)
        samples_ok = len(tiles)
    shots = [out_dir / "web.page.png"] + ([out_dir / "web.samples.png"] if tiles else [])
    screenshots_ok = all(p.is_file() and p.stat().st_size > 5_000 and min(Image.open(p).size) >= 300 for p in shots)
    versions = {}
    for m in listing:
        versions[m["name"]] = len(m["versions"])
    return {
        "metrics": {  # class agreement first: the results index shows the first metric as the headline
            "class_agreement": sum(c["class_agrees"] and c["bar_classes_agree"] for c in checks) / len(checks),
            "dropdown_options": float(len(shown)), "dropdown_models": float(len(versions)),
            "dropdown_max_versions": float(max(versions.values())),
            "dropdown_matches_store": float(sorted(shown) == sorted(options)),
            "models_checked": float(len(checks)),
            "bar_height_max_error_px": max(c["bar_height_error_px"] for c in checks),
            "bar_prob_max_error_vs_api": max(c["bar_prob_error_vs_api"] for c in checks),
            "bars_descending": float(all(c["descending"] for c in checks)),
            "compared_side_by_side": float(compared), "api_error_shown": float(error_shown),
            "samples": float(samples_ok),
            "sample_accuracy": (sum(ok for _, ok in tiles) / len(tiles)) if tiles else None,
            "screenshots_ok": float(screenshots_ok)},
        "artifacts": {"checks": checks, "dropdown_labels": labels, "compared": pair, "error_text": error_text,
                      "image": str(image), "samples": [[str(p), c] for p, c in samples or []]},
        "figures": [p.name for p in shots],
    }


def run(store_root: str | Path | None, out_dir: str | Path, *, budget: str = "standard", n_samples: int = 6,
        write: bool = True) -> dict:
    """Serve ``store_root`` on a free loopback port, drive the page, write the screenshots and the record."""
    from dl_assign import results
    from dl_assign.data import ip102
    from dl_assign.web.server import running

    out_dir = Path(out_dir)
    env = results.env_info()
    t0 = time.perf_counter()
    root = ip102.locate()
    samples = test_images(n_samples + 1, root)
    image, samples = samples[0][0], samples[1:]
    with running(store_root) as url:
        out = check_page(url, image, out_dir, samples)
    record = results.make_record(
        experiment="web.page", budget=budget,
        config={"store": str(Path(store_root or os.environ.get("DL_ASSIGN_MODELS", ".models"))),
                "chromium": chromium_path(), "n_samples": n_samples, "plot_height_px": PLOT_HEIGHT},
        seeds=[0], per_seed=[{k: v for k, v in out["metrics"].items() if v is not None}],
        seed_seconds=[time.perf_counter() - t0], artifacts=[out["artifacts"]],
        wall_seconds=time.perf_counter() - t0, dataset=ip102.info(root), figures=out["figures"],
        description="The web page driven in headless Chromium: page vs API, bar heights, screenshots",
        notes=_notes(out), env=env)
    if write:
        results.write_result(record, out_dir)
    return record


def _notes(out: dict) -> str:
    m = out["metrics"]
    lines = [f"Dropdown: {m['dropdown_options']:.0f} versions of {m['dropdown_models']:.0f} models. Every version "
             f"selected in turn: the page's class equals the API's on {m['class_agreement']:.0%}; bar heights "
             f"within {m['bar_height_max_error_px']:.3g} px of probability x {PLOT_HEIGHT} px.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dl_assign.web.shots", description=__doc__.splitlines()[0])
    p.add_argument("--store", default=None, help="model store (default $DL_ASSIGN_MODELS or ./.models)")
    p.add_argument("--out", default="results", help="where web.page.png, web.samples.png, web.page.json go")
    p.add_argument("--budget", default="standard", help="the budget the stored models were trained at")
    p.add_argument("--samples", type=int, default=6)
    args = p.parse_args(argv)
    why = browser_missing()
    if why:
        print(f"error: {why}")
        return 2
    record = run(args.store, args.out, budget=args.budget, n_samples=args.samples)
    print(json.dumps(record["metrics"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
