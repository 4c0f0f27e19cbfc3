"""HTTP prediction API for a use case's production model (FastAPI, served by uvicorn)."""
