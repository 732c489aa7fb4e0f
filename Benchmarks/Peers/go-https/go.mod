module gohttps

go 1.19
