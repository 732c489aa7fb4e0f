print("tls-echo")
