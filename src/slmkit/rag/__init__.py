"""slmkit.rag"""
