"""Tasks: what differs between kinds of experiment (trainer/task.py), one file each."""
