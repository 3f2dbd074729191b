"""Runner, callbacks, metrics and reports."""
