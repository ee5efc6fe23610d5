"""`relais demo`: a carrier simulator, a merchant stub and the demo's summary."""
