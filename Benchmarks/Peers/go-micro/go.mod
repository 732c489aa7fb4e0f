module gomicro

go 1.19
