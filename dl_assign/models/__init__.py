"""nn.Modules only: no I/O, no argparse, no printing."""
