"""Qt widgets, panes and workers over the engine. May import the engine; the engine never imports this."""
