"""slmkit.data"""
