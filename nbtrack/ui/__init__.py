"""What a person sees: summaries now, anywidget panels and altair charts later."""
