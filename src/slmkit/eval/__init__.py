"""slmkit.eval"""
