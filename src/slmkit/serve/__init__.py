"""slmkit.serve"""
