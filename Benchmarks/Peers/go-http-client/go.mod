module gohttpclient

go 1.19
