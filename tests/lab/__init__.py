"""The fault lab: real nginx, redis-server, tinyproxy and `conndebug serve` processes on loopback."""
