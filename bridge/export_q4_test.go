package bridge

import "github.com/labstack/echo/v4"

// Routes are the routes mounted on the public router (one record per path at least).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }
