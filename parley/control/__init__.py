"""The control plane: what a test double needs and Twilio never had.

Reset, state dump and load, seeds, and (with the subsystems that provide them)
webhook delivery records, fault injection and simulated client events. Served
under ``/parley/v1/…`` only when enabled; never on the Twilio paths.
"""
