module gocrosshub

go 1.19
