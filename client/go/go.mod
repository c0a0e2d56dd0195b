module github.com/hmacd/hmacd/client/go

go 1.19

require (
	github.com/gin-gonic/gin v1.8.1
	github.com/labstack/echo/v4 v4.2.1
	github.com/vmihailenco/msgpack/v5 v5.3.5
)
