"""Task pipelines: raw data to an exported SavedModel (sentiment, textgen, forecast)."""
