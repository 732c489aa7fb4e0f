module gohttpspin

go 1.19
