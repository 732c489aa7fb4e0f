module gospawnbatched

go 1.19
