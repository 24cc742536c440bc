"""The web app: upload an image, pick stored models and versions, see the predicted classes plotted.

``create_app(store_root)`` builds the FastAPI app (API + the static page); ``dl-assign serve`` runs
it on uvicorn. It reads the versioned model store (:mod:`dl_assign.store`) and never trains.
"""

from dl_assign.web.app import create_app

__all__ = ["create_app"]
