"""Data plugins: functions that return `trainer.data.Splits` of in-memory arrays."""
