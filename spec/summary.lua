-- busted output: the usual terminal report, then one closing line that CI
-- reads: "N passed, N failed, N skipped" (errors count as failed).
return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    io.stdout:write(("\n%d passed, %d failed, %d skipped\n"):format(handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.stdout:flush()
    return nil, true
  end)
  return handler
end
