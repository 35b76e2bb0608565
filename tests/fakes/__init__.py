"""Fakes of the outside world for tests: recording HTTP(S) servers on 127.0.0.1 and a test CA (`https`, `plugin`)."""
