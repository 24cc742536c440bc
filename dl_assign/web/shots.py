"""Drive the real page in headless Chromium: check it against the API, save the screenshots.

``python -m dl_assign.web.shots --store .models --out results/`` writes ``web.page.png`` (a
prediction with two models compared side by side: two different models where the store has two
besides the faces ones, else two versions of one), ``web.samples.png`` (a grid of sample
predictions on test images, each tile cut from the real page), ``web.face.png`` when the store
holds a ``faces.*`` model (a portrait predicted with it: the card's face box note and thumbnail)
and ``web.page.json`` / ``.md`` (through the one results writer): what was checked, which store
and which model versions were shown, so that the rubric can read it.

The record's config holds ``page_assets_sha256``, a hash of the page's static files
(``page_assets_sha256()``): a test compares the committed record's hash with the page as it is
now, so a screenshot of an older page fails the tests until it is taken again.

Checks, for every stored model version in turn: the class the page shows equals what
``/api/predict`` returns for the same image, model and version; each bar's height is its
probability times the plot height (max error in px); the bars are in descending order. Also: an
API error (a file that is not an image) is shown in the page in words. Chromium is Debian's
``/usr/bin/chromium`` (``$DL_ASSIGN_CHROMIUM`` to change), driven by Playwright; ``playwright
install`` is never needed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

PLOT_HEIGHT = 150  # px: app.js maps probability 0..1 to 0..150 px of bar height
CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parent / "static"  # the page: index.html, app.js, app.css, favicon.svg
REGENERATE = "python -m dl_assign.web.shots --store <store of standard models> --out results"


def page_assets_sha256(static_dir: Path = STATIC) -> str:
    """SHA-256 over every file under the page's static folder: relative names (sorted) and bytes."""
    h = hashlib.sha256()
    files = sorted((p.relative_to(static_dir).as_posix(), p) for p in static_dir.rglob("*") if p.is_file())
    for rel, path in files:
        data = path.read_bytes()
        for part in (rel.encode(), data):  # length-prefixed: no two file sets hash the same bytes
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
    return h.hexdigest()


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


def _upload(page, path: Path) -> None:
    """Choose ``path`` in the file input and wait until the preview shows it (a new object URL, decoded)."""
    old = page.eval_on_selector("#preview", "e => e.src")
    page.set_input_files("#file", str(path))
    page.wait_for_function("old => { const e = document.getElementById('preview');"
                           " return !e.hidden && e.src !== old && e.complete && e.naturalWidth > 0; }", arg=old)


def _predict(page, n_cards: int, timeout_ms: float = 60_000, top_k: str | None = None) -> None:
    """Click Predict (top-k set first when given: the page clamps it to a model's class count) and wait."""
    if top_k is not None:
        page.fill("#topk", top_k)
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


def _pair(options: list[str]) -> list[str]:
    """What the page screenshot compares: two different models (the latest version of each), else two
    versions of one model. ``faces.*`` models are left out while others exist: the test image is not a face."""
    pool = [o for o in options[::-1] if not o.startswith("faces")] or options[::-1]  # latest versions first
    names: list[str] = []
    for opt in pool:
        if opt.split("@")[0] not in [n.split("@")[0] for n in names]:
            names.append(opt)
    return names[:2] if len(names) >= 2 else pool[:2]


def check_page(url: str, image: Path, out_dir: Path, samples: list[tuple[Path, str]] | None = None,
               *, compare: list[str] | None = None) -> dict:
    """Drive the page at ``url``; returns the measurements and writes the screenshots into ``out_dir``."""
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
            # the page's own top-k (index.html's value attribute): a 2-class model, chosen by default or
            # predicted with, clamps the box to 2, and later cards would show 2 bars
            default_k = page.get_attribute("#topk", "value") or "5"
            shown = page.eval_on_selector_all("#models option", "els => els.map(e => e.value)")
            labels = page.eval_on_selector_all("#models option", "els => els.map(e => e.textContent)")
            _upload(page, image)
            face_photo = _face_photo()
            uploaded = image
            for opt in options:  # every stored model version in turn
                model, version = opt.split("@")
                # a faces.* model classifies the face the front end finds: it gets a portrait, not a pest
                want_upload = face_photo if model.startswith("faces") else image
                if want_upload != uploaded:
                    _upload(page, want_upload)
                    uploaded = want_upload
                _select(page, [opt])
                _predict(page, 1, top_k=default_k)
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
                _upload(page, image)
            # two models side by side: the page screenshot
            pair = compare or _pair(options)
            _select(page, pair)
            _predict(page, len(pair), top_k=default_k)
            compared = page.locator("#results .card.done").count()
            page.screenshot(path=str(out_dir / "web.page.png"), full_page=True)
            # a faces model on the portrait: the card says which face it classified and shows it
            face_shot = None
            faces = [o for o in options[::-1] if o.startswith("faces")]  # latest versions first
            if faces:
                _upload(page, face_photo)
                _select(page, faces[:1])
                _predict(page, 1)
                card = page.locator("#results .card").first
                note = card.locator(".face")
                crop = card.locator(".face canvas.face-crop")
                face_shot = {"option": faces[0], "image": face_photo.name,
                             "page_class": card.locator(".pred").inner_text().strip(),
                             "done": card.evaluate("e => e.classList.contains('done')"),
                             "note": note.first.inner_text().strip() if note.count() else "",
                             "thumbnail_px": (crop.first.bounding_box() or {}).get("width", 0) if crop.count()
                             else 0}
                face_shot["shown"] = bool(face_shot["done"] and "face found" in face_shot["note"]
                                          and face_shot["thumbnail_px"] == 64)
                page.screenshot(path=str(out_dir / "web.face.png"), full_page=True)
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
                _upload(page, path)
                _select(page, pair[:1])
                _predict(page, 1, top_k=default_k)
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
    shots = ([out_dir / "web.page.png"] + ([out_dir / "web.samples.png"] if tiles else [])
             + ([out_dir / "web.face.png"] if face_shot else []))
    screenshots_ok = all(p.is_file() and p.stat().st_size > 5_000 and min(Image.open(p).size) >= 300 for p in shots)
    screenshots_ok = screenshots_ok and (face_shot is None or face_shot["shown"])  # the face shot shows the note
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
            "face_shown": float(face_shot["shown"]) if face_shot else None,
            "sample_accuracy": (sum(ok for _, ok in tiles) / len(tiles)) if tiles else None,
            "screenshots_ok": float(screenshots_ok)},
        "artifacts": {"checks": checks, "dropdown_labels": labels, "compared": pair, "error_text": error_text,
                      "face_shot": face_shot,
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
    assets = page_assets_sha256()
    with running(store_root) as url:
        out = check_page(url, image, out_dir, samples)
    record = results.make_record(
        experiment="web.page", budget=budget,
        config={"store": str(Path(store_root or os.environ.get("DL_ASSIGN_MODELS", ".models"))),
                "chromium": chromium_path(), "n_samples": n_samples, "plot_height_px": PLOT_HEIGHT,
                "page_assets_sha256": assets,
                "versions": _versions([c["option"] for c in out["artifacts"]["checks"]], store_root)},
        seeds=[0], per_seed=[{k: v for k, v in out["metrics"].items() if v is not None}],
        seed_seconds=[time.perf_counter() - t0], artifacts=[out["artifacts"]],
        wall_seconds=time.perf_counter() - t0, dataset=ip102.info(root), figures=out["figures"],
        description="The web page driven in headless Chromium: page vs API, bar heights, screenshots",
        notes=_notes(out), env=env)
    if write:
        results.write_result(record, out_dir)
    return record


def _versions(opts: list[str], store_root: str | Path | None) -> list[dict]:
    """Each shown ``task/model@version`` with what its meta.json says it is (budget, experiment, seed, weights)."""
    from dl_assign import store

    rows = []
    for opt in opts:
        name, version = opt.split("@")
        task, model = name.split("/")
        meta = json.loads((store.resolve(task, model, int(version), root=store_root) / "meta.json").read_text())
        rows.append({"option": opt, **{k: meta.get(k) for k in ("budget", "experiment", "seed", "created",
                                                                  "git_sha", "sha256")}})
    return rows


def _notes(out: dict) -> str:
    m, a = out["metrics"], out["artifacts"]
    lines = [f"Dropdown: {m['dropdown_options']:.0f} versions of {m['dropdown_models']:.0f} models. Every version "
             f"selected in turn: the page's class equals the API's on {m['class_agreement']:.0%}; bar heights "
             f"within {m['bar_height_max_error_px']:.3g} px of probability x {PLOT_HEIGHT} px.", "",
             f"web.page.png compares {' and '.join(a['compared'])}."]
    if a["face_shot"]:
        f = a["face_shot"]
        lines.append(f"web.face.png: {f['option']} on skimage's astronaut portrait; the page shows "
                     f"{f['page_class']!r} and the note {f['note']!r}.")
    lines.append("")
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
