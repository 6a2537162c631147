"""GANs in Healthcare: the support package of the notebook course."""
__version__ = "0.1.0"
