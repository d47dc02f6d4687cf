"""Actions that belong to one plugin (trainer/actions/ holds the contract and the core ones)."""
