"""The project's materializers. Importing the package makes DataFrames content-hashed (see
``materializers.dataframe``): every step module imports from here."""

from materializers import dataframe  # noqa: F401  (registers the DataFrame materializer)
