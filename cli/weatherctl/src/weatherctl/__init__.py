"""weatherctl: the weather suite's command-line client and local launcher."""
