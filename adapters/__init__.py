"""Platform adapters: one module or package per platform, all implementing `base.Adapter`."""
