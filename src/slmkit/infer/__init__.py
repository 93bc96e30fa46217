"""slmkit.infer"""
