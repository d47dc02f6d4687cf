"""What a run does between the controller's compiled calls, one concern per module, listed in the
`actions` section of conf/config.yaml in the order they run. `Action` (base.py) is the contract."""
