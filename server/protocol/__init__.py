"""The wire protocol: frames in, commands out, replies and events out.

Pure: no I/O, no domain rules.
"""
