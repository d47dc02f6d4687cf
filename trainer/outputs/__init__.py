"""What runs and sweeps leave behind: metrics.json, event files, HParams, pictures, progress, sweep summaries, locks."""
