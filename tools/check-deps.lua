--- tools/check-deps.lua [TREE]: every host program the project runs is
-- installed by one of its own install steps (`make check-deps`).
--
--   FIND     the commands the code calls, by a static scan: shell call
--            sites in Lua (os.execute, io.popen, H.sh, local wrappers of
--            them, run { "nft", ... } argv tables, execvp), and the simple
--            commands of shell scripts; through nsenter, timeout, env,
--            sh -c and `command -v`.  A heuristic: it reads the code, not
--            a hand-kept list, so a new call is found without anyone
--            remembering to write it down.
--   RESOLVE  each one with `command -v` here, and its package with dpkg -S.
--   DECIDE   it is provided when its package is Essential, or in the list
--            of the step that runs the file (DEPS for `make test` and
--            `make shell`, plus VM_DEPS for vm/, BENCH_DEPS for bench/),
--            or in their Depends/Pre-Depends closure.
--   REPORT   what is not, and exit 1.
--
-- A step whose own list is not installed here (qemu before the first
-- `make test-vm`) cannot be resolved: its missing commands are reported as
-- not checked, and that step's make target checks again after installing
-- (make test installs DEPS first: a command missing there is an error).
--
-- Also a module (return value), for spec/unit/deps_spec.lua.
local M = {}

local function set(s)
  local t = {}
  for w in s:gmatch("%S+") do t[w] = true end
  return t
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Run a shell command line, return its stdout.
local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local s = p:read("a")
  p:close()
  return s
end

local function newlines(s)
  local _, n = s:gsub("\n", "")
  return n
end

-- Shell builtins and keywords-as-commands: never a package's program.
M.BUILTIN = set [[
  . : [ [[ alias bg break builtin cd command continue declare echo eval exec exit export
  false fg getopts hash jobs kill let local printf pwd read readonly return set shift
  source test times trap true type typeset ulimit umask unalias unset wait
]]
-- The project's own programs (an installed wbl; build/wbl and scripts are
-- relative paths, skipped anyway).
M.OWN = set "wbl"

-- Programs that run another program.  arg: options that take a value;
-- skip: positional words before the command (timeout's duration);
-- env: assignments may come first.
local WRAPPERS = {
  nsenter = { arg = set "-t --target -S --setuid -G --setgid" },
  timeout = { arg = set "-s --signal -k --kill-after", skip = 1 },
  env = { arg = set "-u --unset -C --chdir", env = true },
  nice = { arg = set "-n --adjustment" },
  nohup = { arg = {} },
  setsid = { arg = {} },
  chroot = { arg = {}, skip = 1 },
  exec = { arg = set "-a" },
  xargs = { arg = set "-n -L -P -d -I -E -s" },
}
-- Shells: `-c STRING` is a command line.  Interpreters: a script given by
-- absolute path (lua5.4 /usr/bin/busted) is a program of its own package.
local SHELLS = set "sh bash dash"
local INTERPRETERS = set "sh bash dash lua lua5.4 perl python3"

local function valid_name(v)
  return v:match("^[%w_.+/][%w_.+/%-]*$") ~= nil and v ~= "." and v ~= ".."
end

-- Shell: words -----------------------------------------------------------

-- Blank out here-document bodies (and end lines), keeping line numbers:
-- their text is input, not commands.
local function strip_heredocs(text)
  local out, pending = {}, {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    if #pending > 0 then
      local d = pending[1]
      if (d.tabs and line:gsub("^\t+", "") or line) == d.word then table.remove(pending, 1) end
      out[#out + 1] = ""
    else
      out[#out + 1] = line
      for at, tabs, word in line:gmatch("()<<(%-?)%s*['\"]?([%w_]+)['\"]?") do
        if line:sub(at - 1, at - 1) ~= "<" and line:sub(at + 2, at + 2) ~= "<" then
          pending[#pending + 1] = { word = word, tabs = tabs == "-" }
        end
      end
    end
  end
  return table.concat(out, "\n")
end

-- Index of the ")" that closes the "(" at i, past quotes; #s + 1 if none.
local function close_paren(s, i)
  local depth, j = 0, i
  while j <= #s do
    local c = s:sub(j, j)
    if c == "\\" then j = j + 1
    elseif c == "'" then j = s:find("'", j + 1, true) or #s
    elseif c == '"' then
      j = j + 1
      while j <= #s and s:sub(j, j) ~= '"' do
        if s:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
    elseif c == "(" then depth = depth + 1
    elseif c == ")" then
      depth = depth - 1
      if depth == 0 then return j end
    end
    j = j + 1
  end
  return #s + 1
end

local OPS = { ";;", "&&", "||", "|&", ";", "&", "|", "(", ")", "\n" }

-- The words and operators of a shell text.  A word is { v = its text with
-- quotes removed, dyn = it has an expansion, quoted, line, var = the name
-- when it is exactly "$name" }.  Command substitutions are handed to
-- sub(text, line) on the way: their commands run too.
local function sh_words(s, line, sub)
  local toks, n, i = {}, #s, 1
  local word, dyn, quoted, wline, vars, var, wstart
  local redir = false -- the next word is a redirection's target
  local function flush()
    if not word then return end
    if redir then
      redir = false
    else
      toks[#toks + 1] = { k = "w", v = word, dyn = dyn, quoted = quoted, line = wline, raw = s:sub(wstart, i - 1),
                          var = (vars == 1 and word == "") and var or nil }
    end
    word = nil
  end
  local function add(c)
    if not word then word, dyn, quoted, wline, vars, var, wstart = "", false, false, line, 0, nil, i end
    word = word .. c
  end
  -- Only the substitutions inside (arithmetic, ${x:-...}): no command position.
  local function subs_only(text, l)
    local j = 1
    while true do
      local a = text:find("[$`]", j)
      if not a then return end
      if text:sub(a, a) == "`" then
        local e = text:find("`", a + 1, true) or #text + 1
        sub(text:sub(a + 1, e - 1), l)
        j = e + 1
      elseif text:sub(a + 1, a + 1) == "(" then
        local e = close_paren(text, a + 1)
        local inner = text:sub(a + 2, e - 1)
        if inner:sub(1, 1) == "(" then subs_only(inner, l) else sub(inner, l) end
        j = e + 1
      else
        j = a + 1
      end
    end
  end
  -- An expansion at j ("$" or "`"): scan what it runs; the index after it.
  local function expand(j)
    add("")
    dyn, vars = true, vars + 1
    local c2 = s:sub(j + 1, j + 1)
    local e
    if s:sub(j, j) == "`" then
      e = s:find("`", j + 1, true) or n + 1
      sub(s:sub(j + 1, e - 1), line)
    elseif c2 == "(" then
      e = close_paren(s, j + 1)
      local inner = s:sub(j + 2, e - 1)
      if inner:sub(1, 1) == "(" then subs_only(inner, line) else sub(inner, line) end
    elseif c2 == "{" then
      e = s:find("}", j, true) or n + 1
      local inner = s:sub(j + 2, e - 1)
      if inner:find("[$`]") then -- ${x:-$(cmd)}: find its end past the inner braces
        e = close_paren(s:gsub("[{}]", { ["{"] = "(", ["}"] = ")" }), j + 1)
        inner = s:sub(j + 2, e - 1)
      end
      var = inner:match("^[%a_][%w_]*$")
      subs_only(inner, line)
    else
      var = s:match("^[%a_][%w_]*", j + 1)
      return j + 1 + (var and #var or 1)
    end
    line = line + newlines(s:sub(j, e))
    return e + 1
  end
  while i <= n do
    local c = s:sub(i, i)
    if c == "\\" then
      if s:sub(i + 1, i + 1) == "\n" then line = line + 1 else add(s:sub(i + 1, i + 1)) end
      i = i + 2
    elseif c == "'" then
      local e = s:find("'", i + 1, true) or n + 1
      add(s:sub(i + 1, e - 1))
      quoted = true
      line = line + newlines(s:sub(i, e))
      i = e + 1
    elseif c == '"' then
      add("")
      quoted = true
      i = i + 1
      while i <= n and s:sub(i, i) ~= '"' do
        local d = s:sub(i, i)
        if d == "\\" then add(s:sub(i + 1, i + 1)); i = i + 2
        elseif d == "$" or d == "`" then i = expand(i)
        else
          if d == "\n" then line = line + 1 end
          add(d)
          i = i + 1
        end
      end
      i = i + 1
    elseif c == "$" or c == "`" then
      i = expand(i)
    elseif c == "#" and not word then -- a comment
      i = s:find("\n", i, true) or n + 1
    elseif c == " " or c == "\t" then
      flush()
      i = i + 1
    elseif c == "<" or c == ">" or (c == "&" and s:sub(i + 1, i + 1) == ">") then
      -- A redirection (2>&1, >>f, <<EOF): the fd before it and the word
      -- after it are part of it.
      if word and word:match("^%d+$") and not quoted and not dyn then word = nil end
      flush()
      i = i + #s:match("^&?[<>]+[&|%-]?", i)
      redir = true
    else
      local op
      for _, o in ipairs(OPS) do
        if s:sub(i, i + #o - 1) == o then op = o; break end
      end
      if op then
        flush()
        redir = false
        toks[#toks + 1] = { k = "op", v = op, line = line }
        if op == "\n" then line = line + 1 end
        i = i + #op
      else
        add(c)
        i = i + 1
      end
    end
  end
  flush()
  return toks
end

-- Shell: commands --------------------------------------------------------

local START = set "if then else elif do while until ! { time"
local ENDS = set "fi done esac }"

-- The command of a simple command whose words are ws, ws[k] first:
-- ctx.found(name, line) for it and for what it runs.
local function command_of(ws, k, ctx)
  local w = ws[k]
  if not w then return end
  local v = w.v
  if w.dyn or v:find("%", 1, true) then
    -- "$dec" runs what the script assigned to dec; a Lua %s is unknown.
    if w.var and ctx.var_used then ctx.var_used(w.var) end
    return
  end
  if v == "command" then
    if ws[k + 1] and ws[k + 1].v:match("^%-[vV]") then
      for j = k + 2, #ws do
        if not ws[j].dyn and valid_name(ws[j].v) then ctx.found(ws[j].v, ws[j].line) end
      end
    else
      return command_of(ws, k + 1, ctx)
    end
    return
  end
  local wrap = WRAPPERS[v]
  if wrap then
    if v ~= "exec" then ctx.found(v, w.line) end
    local j, skip = k + 1, wrap.skip or 0
    while ws[j] do
      local a = ws[j].v
      if a == "--" then j = j + 1; break
      elseif a:match("^%-") then
        if wrap.arg[a] then j = j + 1 end
      elseif wrap.env and a:match("^[%a_][%w_]*=") then -- luacheck: ignore 542
      elseif skip > 0 then skip = skip - 1
      else break end
      j = j + 1
    end
    return command_of(ws, j, ctx)
  end
  if M.BUILTIN[v] or M.OWN[v] or not valid_name(v) then return end
  -- A spec proving what happens when a program is missing.
  if v:find("no-such", 1, true) or v:match("^/nonexistent/") then return end
  if v:find("/", 1, true) and v:sub(1, 1) ~= "/" then return end -- build/wbl, ./x
  if v:sub(1, #ctx.top + 1) == ctx.top .. "/" then return end
  ctx.found(v, w.line)
  local base = v:match("[^/]+$")
  if SHELLS[base] then
    for j = k + 1, #ws do
      if ws[j].v == "-c" then
        if ws[j + 1] and not ws[j + 1].dyn then ctx.shell(ws[j + 1].v, ws[j + 1].line) end
        return
      end
      if not ws[j].v:match("^%-") then break end
    end
  end
  if INTERPRETERS[base] then
    local j = k + 1
    while ws[j] and ws[j].v:match("^%-.") do j = j + (ws[j].v == "-e" and 2 or 1) end
    local a = ws[j]
    if a and not a.dyn and a.v:match("^/") and valid_name(a.v) and a.v:sub(1, #ctx.top + 1) ~= ctx.top .. "/" then
      ctx.found(a.v, a.line)
    end
  end
end

-- The commands of shell text s (starting at line): ctx.found for each.
-- continued: s goes on a word already begun (Lua's "x" .. y .. " | cmd"),
-- so its first word is no command.
local function sh_scan(s, line, ctx, continued)
  local toks = sh_words(strip_heredocs(s), line, function(t, l) sh_scan(t, l, ctx) end)
  local at, skip, head, pat = not continued, false, false, false
  local i = 1
  while i <= #toks do
    local t = toks[i]
    local kw = t.k == "w" and not t.quoted and t.v
    if pat then -- a case pattern, up to its ")"
      if t.v == ")" and t.k == "op" then pat, at = false, true
      elseif kw == "esac" then pat, at = false, false end
    elseif t.k == "op" then
      if t.v == ";;" then pat, at = true, false
      elseif t.v == ")" then at = false
      else at, skip = true, false end
    elseif head then -- case WORD in
      if kw == "in" then head, pat = false, true end
    elseif skip or not at then -- luacheck: ignore 542 (arguments; a for loop's head)
    elseif t.v:match("^[%a_][%w_]*=") then -- x=1 [cmd]: remember it for "$x"
      local name, value = t.v:match("^([%a_][%w_]*)=(.*)$")
      local default = t.raw and t.raw:match("^[%a_][%w_]*=%${[%a_][%w_]*:?%-([^}$`'\"]*)}$")
      if ctx.assigned then ctx.assigned(name, default or value, t.dyn and not default, t.line) end
    elseif START[kw] then -- luacheck: ignore 542 (a command follows)
    elseif ENDS[kw] then at = false
    elseif kw == "for" or kw == "select" then skip = true
    elseif kw == "case" then head, at = true, false
    elseif toks[i + 1] and toks[i + 1].v == "(" and toks[i + 2] and toks[i + 2].v == ")" then
      if ctx.defined then ctx.defined(t.v) end -- name() { ...; }
      i = i + 2
    elseif kw == "function" then
      if ctx.defined and toks[i + 1] then ctx.defined(toks[i + 1].v) end
      i = i + 1
    else
      local ws = { t }
      while toks[i + 1] and toks[i + 1].k == "w" do ws[#ws + 1] = toks[i + 1]; i = i + 1 end
      command_of(ws, 1, ctx)
      at = false
    end
    i = i + 1
  end
end
M.sh_scan = sh_scan

-- A shell script: its interpreter, and its commands (not those of a
-- busybox script: they are the applets of the busybox it runs under, as in
-- the VM's initramfs).
local function scan_script(text, ctx)
  local shebang = text:match("^#!%s*(%S+)")
  local interp = text:match("^#!%s*%S+%s+(%S+)")
  if shebang then
    ctx.found(shebang, 1)
    if shebang:match("/env$") and interp then ctx.found(interp, 1) end
    if shebang:match("busybox$") then return end
  end
  local assigned, used, fns = {}, {}, {}
  ctx.assigned = function(name, value, dyn, line)
    assigned[#assigned + 1] = { name = name, value = value, dyn = dyn, line = line }
  end
  ctx.var_used = function(name) used[name] = true end
  local found = ctx.found
  local mine = {}
  ctx.found = function(name, line) mine[#mine + 1] = { name, line } end
  ctx.defined = function(name) fns[name] = true end
  sh_scan(text, 1, ctx)
  -- dec="xz -dc" ... | $dec: what such variables hold runs too.
  ctx.assigned, ctx.var_used = nil, nil
  for _, a in ipairs(assigned) do
    if used[a.name] and not a.dyn then sh_scan(a.value, a.line, ctx) end
  end
  ctx.found = found
  for _, f in ipairs(mine) do
    if not fns[f[1]] then found(f[1], f[2]) end
  end
end
M.scan_script = scan_script

-- Lua: tokens ------------------------------------------------------------

local LUA_OPS = { "...", "..", "::", "==", "~=", "<=", ">=", "//", ">>", "<<" }

-- Lua source as tokens { t = "name"|"str"|"num"|"op", v, line }; comments dropped.
local function lua_tokens(src)
  local toks, i, n, line = {}, 1, #src, 1
  local function push(t, v, l) toks[#toks + 1] = { t = t, v = v, line = l or line } end
  while i <= n do
    local c = src:sub(i, i)
    local long = src:match("^%[(=*)%[", i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local lvl = src:match("^%[(=*)%[", i + 2)
      local e = lvl and select(2, src:find("]" .. lvl .. "]", i, true)) or src:find("\n", i, true) or n + 1
      if lvl then line = line + newlines(src:sub(i, e)); i = e + 1 else i = e end
    elseif long then
      local s0 = i + #long + 2
      local a, e = src:find("]" .. long .. "]", s0, true)
      a, e = a or n + 1, e or n
      local body = src:sub(s0, a - 1)
      local first = line
      if body:sub(1, 1) == "\n" then body, first = body:sub(2), line + 1 end
      push("str", body, first)
      line = line + newlines(src:sub(i, e))
      i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "\n" then break
        else j = j + 1 end
      end
      local raw = src:sub(i, j)
      local f = load("return " .. raw, "=str", "t", {})
      local ok, v = pcall(f or error)
      push("str", ok and type(v) == "string" and v or raw:sub(2, -2))
      line = line + newlines(raw)
      i = j + 1
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      push("name", w)
      i = i + #w
    elseif c:match("%d") then
      local w = src:match("^[%w%.]+", i)
      push("num", w)
      i = i + #w
    else
      local op = c
      for _, o in ipairs(LUA_OPS) do
        if src:sub(i, i + #o - 1) == o then op = o; break end
      end
      push("op", op)
      i = i + #op
    end
  end
  return toks
end

-- Lua: calls and functions -----------------------------------------------

local OPEN = { ["("] = true, ["{"] = true, ["["] = true }
local CLOSE = { [")"] = true, ["}"] = true, ["]"] = true }

-- Index of the token closing the bracket at i.
local function close_tok(toks, i)
  local depth = 0
  for j = i, #toks do
    local t = toks[j]
    if t.t == "op" and OPEN[t.v] then depth = depth + 1
    elseif t.t == "op" and CLOSE[t.v] then
      depth = depth - 1
      if depth == 0 then return j end
    end
  end
  return #toks
end

-- Split toks[a..b] at top-level separators into { {a, b}, ... }.
local function split(toks, a, b, seps)
  local out, depth, from = {}, 0, a
  for j = a, b do
    local t = toks[j]
    if t.t == "op" and OPEN[t.v] then depth = depth + 1
    elseif t.t == "op" and CLOSE[t.v] then depth = depth - 1
    elseif depth == 0 and t.t == "op" and seps[t.v] then
      out[#out + 1] = { from, j - 1 }
      from = j + 1
    end
  end
  if from <= b then out[#out + 1] = { from, b } end
  return out
end

-- Every call: { name = "os.execute", at = index, line, args = { {a, b}... } }.
local function lua_calls(toks)
  local calls = {}
  for i, t in ipairs(toks) do
    local prev = toks[i - 1]
    if t.t == "name" and not (prev and prev.t == "op" and (prev.v == "." or prev.v == ":")) then
      local name, j = t.v, i + 1
      while toks[j] and toks[j].t == "op" and (toks[j].v == "." or toks[j].v == ":")
        and toks[j + 1] and toks[j + 1].t == "name" do
        name = name .. toks[j].v .. toks[j + 1].v
        j = j + 2
      end
      local nx = toks[j]
      if nx and prev and prev.t == "name" and prev.v == "function" then nx = nil end
      if nx and nx.t == "op" and nx.v == "(" then
        local e = close_tok(toks, j)
        calls[#calls + 1] = { name = name, at = i, line = t.line, args = split(toks, j + 1, e - 1, { [","] = true }) }
      elseif nx and ((nx.t == "op" and nx.v == "{") or nx.t == "str") then
        local e = nx.t == "str" and j or close_tok(toks, j)
        calls[#calls + 1] = { name = name, at = i, line = t.line, args = { { j, e } } }
      end
    end
  end
  return calls
end

-- Every function: { name, params = { name = index }, a, b (body) }.
local OPENERS = set "function if do repeat"
local CLOSERS = set "end until"
local function lua_functions(toks)
  local fns = {}
  for i, t in ipairs(toks) do
    if t.t == "name" and t.v == "function" then
      local name
      local nx = toks[i + 1]
      if nx and nx.t == "name" then -- function a.b:c(
        local j = i + 1
        name = nx.v
        while toks[j + 1] and (toks[j + 1].v == "." or toks[j + 1].v == ":") do
          name = name .. toks[j + 1].v .. toks[j + 2].v
          j = j + 2
        end
      elseif toks[i - 1] and toks[i - 1].v == "=" and toks[i - 2] and toks[i - 2].t == "name" then
        name = toks[i - 2].v -- x = function(
        local j = i - 3
        while toks[j] and toks[j].v == "." and toks[j - 1] and toks[j - 1].t == "name" do
          name = toks[j - 1].v .. "." .. name
          j = j - 2
        end
      end
      local p = i + 1
      while toks[p] and toks[p].v ~= "(" do p = p + 1 end
      local pe = close_tok(toks, p)
      local params, n = {}, 0
      for j = p + 1, pe - 1 do
        if toks[j].t == "name" then n = n + 1; params[toks[j].v] = n end
      end
      local depth, e = 1, #toks
      for j = pe + 1, #toks do
        local v = toks[j].t == "name" and toks[j].v
        if OPENERS[v] then depth = depth + 1
        elseif CLOSERS[v] then
          depth = depth - 1
          if depth == 0 then e = j; break end
        end
      end
      if name then fns[#fns + 1] = { name = name, params = params, a = pe + 1, b = e } end
    end
  end
  return fns
end

-- What an argument is: the string it starts with (after grouping parens),
-- the strings joined after it with .., or a table's elements.
local function arg_info(toks, a, b)
  local k, depth = a, 0
  while k < b and toks[k].t == "op" and toks[k].v == "(" do k = k + 1; depth = depth + 1 end
  local t = toks[k]
  local info = { start = nil, more = {}, elems = nil, names = {} }
  if t and t.t == "str" then info.start = t end
  if t and t.t == "op" and t.v == "{" then
    info.elems = {}
    for _, r in ipairs(split(toks, k + 1, close_tok(toks, k) - 1, { [","] = true, [";"] = true })) do
      local x, y = r[1], r[2]
      if x <= y and not (toks[x + 1] and toks[x + 1].v == "=" and x + 1 <= y) and toks[x].v ~= "[" then
        local e = toks[x]
        if e.t == "str" and x == y then info.elems[#info.elems + 1] = { v = e.v, line = e.line }
        elseif e.t == "str" then info.elems[#info.elems + 1] = { v = e.v .. "$", dyn = true, line = e.line }
        else info.elems[#info.elems + 1] = { v = "$", dyn = true, line = e.line } end
      end
    end
  end
  local d = 0
  for j = a, b do
    local x = toks[j]
    if x.t == "op" and OPEN[x.v] then d = d + 1
    elseif x.t == "op" and CLOSE[x.v] then d = d - 1
    elseif x.t == "str" and d <= depth and toks[j - 1] and toks[j - 1].v == ".." then info.more[#info.more + 1] = x
    elseif x.t == "name" and not (toks[j - 1] and (toks[j - 1].v == "." or toks[j - 1].v == ":")) then
      info.names[x.v] = true
    end
  end
  return info
end

-- Intrinsic sinks: the argument (index) that is a shell command line.
local SHELL_SINKS = { ["os.execute"] = 1, ["io.popen"] = 1, ["H.sh"] = 1 }
-- core.proc.execve/execvp (PROGRAM, ARGV); not wbl.proc.exec, which
-- scripts/init.lua calls inside the container.
local function is_exec(name) return name:match("execvp?e?$") ~= nil end

-- Calls of build/wbl scripts/run.lua: their argv runs inside the container.
local WBL_MARKS = set "H.wbl H.run H.wbl_run H.start"

-- Classify the file's functions: "wbl" (runs run.lua), "probe" (looks a
-- program up on PATH), "host" (runs its arguments on the host: cmd = the
-- parameters that reach a shell line, argv = those that are argv tables).
local function classify(toks, calls, fns)
  local by = {}
  for _, f in ipairs(fns) do by[f.name] = f end
  local function body_calls(f)
    local out = {}
    for _, c in ipairs(calls) do
      if c.at >= f.a and c.at <= f.b then out[#out + 1] = c end
    end
    return out
  end
  for _, f in ipairs(fns) do
    f.calls = body_calls(f)
    f.cmd, f.argv = {}, {}
    for j = f.a, f.b do
      local t = toks[j]
      -- (an installed wbl, PREFIX/bin/wbl, runs its arguments as wbl does)
      local own = t.t == "str" and (t.v:find("run.lua", 1, true) or t.v:match("/bin/wbl$"))
      if own or t.t == "str" and t.v:find("command -v", 1, true) then
        f.kind = own and "wbl" or f.kind or "probe"
      elseif t.t == "str" and t.v == "PATH" and toks[j - 2] and toks[j - 2].v == "getenv" then
        f.kind = f.kind or "probe"
      elseif t.t == "name" and f.params[t.v] and toks[j - 2] and toks[j - 2].v == "ipairs" then
        f.argv[f.params[t.v]] = true
      end
    end
    for j = f.a, f.b - 2 do -- H.q(H.wbl) too, not only calls
      if toks[j].v == "H" and toks[j + 1].v == "." and WBL_MARKS["H." .. toks[j + 2].v] then f.kind = "wbl" end
    end
  end
  -- Until nothing changes: a function calling a sink is a host wrapper.
  local changed = true
  while changed do
    changed = false
    for _, f in ipairs(fns) do
      for _, c in ipairs(f.calls) do
        local g = by[c.name]
        local idx = SHELL_SINKS[c.name] and { [SHELL_SINKS[c.name]] = true }
          or (is_exec(c.name) and { [1] = true, [2] = true })
          or (g and g ~= f and (g.kind == "host" or g.kind == "probe") and g.cmd) or nil
        if g and g.kind == "wbl" and f.kind ~= "wbl" then f.kind = "wbl"; changed = true end
        if idx and f.kind ~= "wbl" then
          if f.kind == nil then f.kind = "host"; changed = true end
          for i, r in ipairs(c.args) do
            if idx[i] or (g and g.argv[i]) then
              for name in pairs(arg_info(toks, r[1], r[2]).names) do
                local p = f.params[name]
                if p and not f.cmd[p] then f.cmd[p] = true; f.argv[p] = true; changed = true end
              end
            end
          end
        end
      end
    end
  end
  return by
end

-- Lua: a file ------------------------------------------------------------

-- The commands a Lua file runs on the host: ctx.found(name, line).
local function scan_lua(src, ctx)
  local toks = lua_tokens(src)
  local calls = lua_calls(toks)
  local by = classify(toks, calls, lua_functions(toks))
  -- Single assignments x = <expr>, for sink(x).
  local assigns = {}
  for i, t in ipairs(toks) do
    if t.t == "name" and toks[i + 1] and toks[i + 1].v == "=" and toks[i - 1] and toks[i - 1].v ~= "."
      and toks[i - 1].v ~= "," and toks[i + 2] then
      local b = i + 2
      local depth = 0
      for j = i + 2, #toks do -- the expression: to the end of its last line
        local x = toks[j]
        if x.t == "op" and OPEN[x.v] then depth = depth + 1 elseif x.t == "op" and CLOSE[x.v] then depth = depth - 1 end
        if depth < 0 then break end
        b = j
        local nx = toks[j + 1]
        if depth == 0 and nx and nx.line > x.line and not (nx.t == "op" and (nx.v == ":" or nx.v == ".."))
          and not (x.t == "op" and (x.v == ".." or x.v == "=" or x.v == "(")) then break end
      end
      assigns[t.v] = assigns[t.v] or {}
      table.insert(assigns[t.v], { i + 2, b })
    end
  end
  local function shell_arg(r, seen)
    local info = arg_info(toks, r[1], r[2])
    if info.start then sh_scan(info.start.v, info.start.line, ctx) end
    for _, s in ipairs(info.more) do sh_scan(s.v, s.line, ctx, true) end
    -- sink(cmd): what the file assigns to cmd.
    local x = toks[r[1]]
    if r[1] == r[2] and x.t == "name" and assigns[x.v] and not seen[x.v] then
      seen[x.v] = true
      for _, ar in ipairs(assigns[x.v]) do shell_arg(ar, seen) end
    end
    return info
  end
  local function argv(elems, prog)
    local ws = {}
    if prog then ws[1] = prog end
    for i, e in ipairs(elems) do
      if i > 1 or not prog then ws[#ws + 1] = { v = e.v, dyn = e.dyn, line = e.line } end
    end
    command_of(ws, 1, ctx)
  end
  for _, c in ipairs(calls) do
    local f = by[c.name]
    if SHELL_SINKS[c.name] and c.args[1] then
      shell_arg(c.args[SHELL_SINKS[c.name]], {})
    elseif is_exec(c.name) and c.args[1] then
      local p = arg_info(toks, c.args[1][1], c.args[1][2])
      local a2 = c.args[2] and arg_info(toks, c.args[2][1], c.args[2][2])
      if p.start then
        argv(a2 and a2.elems or {}, { v = p.start.v, dyn = c.args[1][1] ~= c.args[1][2], line = p.start.line })
      end
    elseif f and f.kind == "probe" then
      for _, r in ipairs(c.args) do
        local info = arg_info(toks, r[1], r[2])
        if info.start and r[1] == r[2] and valid_name(info.start.v) then ctx.found(info.start.v, info.start.line) end
      end
    elseif f and f.kind == "host" then
      -- An argv table ({ "nft", ... }) is the command; other arguments
      -- (its input) are not.  Else the parameters that reach a shell line.
      local infos, has_argv = {}, false
      for i, r in ipairs(c.args) do
        infos[i] = arg_info(toks, r[1], r[2])
        if infos[i].elems and (f.argv[i] or f.cmd[i]) and infos[i].elems[1] then has_argv = true end
      end
      for i, r in ipairs(c.args) do
        if infos[i].elems and (f.argv[i] or f.cmd[i]) and infos[i].elems[1] then argv(infos[i].elems)
        elseif not has_argv and f.cmd[i] then shell_arg(r, {}) end
      end
    end
  end
end
M.scan_lua = scan_lua

-- A tree ---------------------------------------------------------------------

-- The list whose packages a file's commands need (besides DEPS).
function M.step_of(file)
  if file:match("^vm/") then return "VM_DEPS" end
  if file:match("^bench/") then return "BENCH_DEPS" end
  return "DEPS"
end

-- The files to scan: Lua files and shell scripts, not .git, build/ or the
-- generated roots under rootfs/.
function M.files(top)
  local list = capture(("find %s \\( -name .git -o -path %s -o -path %s -type d \\) -prune -o -type f -print"):format(
    q(top), q(top .. "/build"), q(top .. "/rootfs/*")))
  local out = {}
  for path in list:gmatch("[^\n]+") do
    local rel = path:sub(#top + 2)
    local kind
    if rel:match("%.lua$") then kind = "lua"
    elseif rel:match("%.sh$") then kind = "sh"
    else
      -- #!/bin/sh, #!/usr/bin/env bash, #!/bin/busybox sh
      local f = io.open(path, "rb")
      local head = f and f:read(64) or ""
      if f then f:close() end
      local interp, a1 = head:match("^#!%s*(%S+)[ \t]*(%S*)")
      local prog = interp and interp:match("[^/]+$")
      if SHELLS[prog] or ((prog == "env" or prog == "busybox") and SHELLS[a1]) then kind = "sh" end
    end
    if kind then out[#out + 1] = { rel = rel, path = path, kind = kind } end
  end
  table.sort(out, function(a, b) return a.rel < b.rel end)
  return out
end

--- Scan a tree: the commands found, { name = { { file, line, step }, ... } },
-- and their names in order.
function M.scan(top)
  local found, order = {}, {}
  for _, f in ipairs(M.files(top)) do
    local fh = assert(io.open(f.path, "rb"))
    local text = fh:read("a")
    fh:close()
    local ctx = { top = top }
    function ctx.found(name, line)
      if not found[name] then found[name] = {}; order[#order + 1] = name end
      table.insert(found[name], { file = f.rel, line = line, step = M.step_of(f.rel) })
    end
    function ctx.shell(s, line) sh_scan(s, line, ctx) end
    if f.kind == "lua" then scan_lua(text, ctx) else scan_script(text, ctx) end
  end
  table.sort(order)
  return found, order
end

-- Packages -----------------------------------------------------------------

--- The lists from the tree's Makefile (make print-deps).
function M.lists(top)
  local out = capture(("make -s --no-print-directory -C %s print-deps 2>&1"):format(q(top)))
  local lists = {}
  for name, pkgs in out:gmatch("([%u_]+)=([^\n]*)") do
    lists[name] = {}
    for p in pkgs:gmatch("%S+") do table.insert(lists[name], p) end
  end
  if not lists.DEPS then return nil, "make print-deps gave no DEPS= line: " .. out end
  lists.VM_DEPS, lists.BENCH_DEPS = lists.VM_DEPS or {}, lists.BENCH_DEPS or {}
  return lists
end

--- The installed packages: { name = { essential, deps = { {alt, ...}, ... } } },
-- and providers of virtual names: { virtual = { pkg, ... } }.
function M.packages()
  local db, provides = {}, {}
  local fmt = "${Package}\\t${Status}\\t${Essential}\\t${Depends}, ${Pre-Depends}\\t${Provides}\\n"
  for l in capture("dpkg-query -W -f='" .. fmt .. "'"):gmatch("[^\n]+") do
    local name, status, ess, deps, prov = l:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    if name and status:match(" installed$") then
      local p = { essential = ess == "yes", deps = {} }
      for group in deps:gmatch("[^,]+") do
        local alts = {}
        for alt in group:gmatch("[^|]+") do
          local n = alt:match("^%s*([^%s:(]+)")
          if n then alts[#alts + 1] = n end
        end
        if #alts > 0 then p.deps[#p.deps + 1] = alts end
      end
      db[name] = p
      for v in prov:gmatch("[^,]+") do
        local n = v:match("^%s*([^%s:(]+)")
        if n then provides[n] = provides[n] or {}; table.insert(provides[n], name) end
      end
    end
  end
  return db, provides
end

--- The Depends/Pre-Depends closure of roots (and of Essential packages):
-- { pkg = the root it came from, or "Essential" }.  Of "a | b" every
-- installed alternative counts; a virtual name counts as its providers.
function M.closure(db, provides, roots)
  local via, queue = {}, {}
  local function add(p, from)
    if via[p] then return end
    via[p] = from
    queue[#queue + 1] = p
  end
  for _, r in ipairs(roots) do add(r, r) end
  for name, p in pairs(db) do
    if p.essential then add(name, "Essential") end
  end
  local i = 1
  while queue[i] do
    local p = db[queue[i]]
    for _, alts in ipairs(p and p.deps or {}) do
      for _, a in ipairs(alts) do
        if db[a] then add(a, via[queue[i]]) end
        for _, pr in ipairs(provides[a] or {}) do add(pr, via[queue[i]]) end
      end
    end
    i = i + 1
  end
  return via
end

-- /usr/bin/x and /bin/x are one file on merged /usr: dpkg knows one name.
local function usr_forms(p)
  local out = { p }
  local rest = p:match("^/usr(/s?bin/.*)$") or p:match("^/usr(/lib%w*/.*)$")
  if rest then out[2] = rest
  elseif p:match("^/s?bin/") or p:match("^/lib%w*/") then out[2] = "/usr" .. p end
  return out
end

local function normpath(p)
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then parts[#parts] = nil elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return "/" .. table.concat(parts, "/")
end

--- Resolve names: { name = { path, pkgs = { ... } } }, or { missing = true }
-- when command -v finds none.  The owner is that of the first link on the
-- way to the file that dpkg knows (poweroff -> systemctl: systemd-sysv;
-- cc -> /etc/alternatives/cc -> gcc-12's file: gcc-12).
function M.resolve(names)
  -- Per name one line: the path, each link on the way, the real file.
  local script = [[
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
for c do
  p=$(command -v "$c") || p=
  case $p in /*) ;; *) echo; continue ;; esac
  printf '%s' "$p"
  n=0
  while [ -L "$p" ] && [ $n -lt 20 ]; do
    t=$(readlink "$p")
    case $t in /*) p=$t ;; *) p=${p%/*}/$t ;; esac
    n=$((n + 1))
    printf '\t%s' "$p"
  done
  printf '\t%s\n' "$(readlink -f "$p")"
done]]
  local args = {}
  for i, n in ipairs(names) do args[i] = q(n) end
  local out = capture("sh -c " .. q(script) .. " sh " .. table.concat(args, " ") .. " 2>/dev/null")
  local res, chains, all = {}, {}, {}
  local i = 0
  for l in out:gmatch("([^\n]*)\n") do
    i = i + 1
    local name = names[i]
    if not name then break end
    if l == "" then
      res[name] = { missing = true }
    else
      local chain = {}
      for p in l:gmatch("[^\t]+") do
        for _, f in ipairs(usr_forms(normpath(p))) do chain[#chain + 1] = f; all[f] = true end
      end
      chains[name] = chain
      res[name] = { path = l:match("^[^\t]+") }
    end
  end
  for j = i + 1, #names do res[names[j]] = { missing = true } end
  local paths = {}
  for p in pairs(all) do paths[#paths + 1] = q(p) end
  local owner = {}
  if #paths > 0 then
    for l in capture("dpkg -S " .. table.concat(paths, " ") .. " 2>/dev/null"):gmatch("[^\n]+") do
      local pkgs, path = l:match("^(.-): (/.*)$")
      if pkgs and not l:match("^diversion") then
        local list = {}
        for p in pkgs:gmatch("[^,%s]+") do list[#list + 1] = p:gsub(":.*$", "") end
        owner[path] = list
      end
    end
  end
  for name, chain in pairs(chains) do
    for _, p in ipairs(chain) do
      if owner[p] then res[name].pkgs, res[name].owned = owner[p], p; break end
    end
  end
  return res
end

-- The check ----------------------------------------------------------------

--- Check a tree: problems (lines), notes (lines), and the rows of the summary.
function M.check(top)
  local lists, err = M.lists(top)
  if not lists then return { "check-deps: " .. err }, {}, {} end
  local found, order = M.scan(top)
  local db, provides = M.packages()
  local res = M.resolve(order)
  local closures, complete, absent = {}, {}, {}
  for _, step in ipairs { "DEPS", "VM_DEPS", "BENCH_DEPS" } do
    local roots = {}
    for _, p in ipairs(lists.DEPS) do roots[#roots + 1] = p end
    if step ~= "DEPS" then for _, p in ipairs(lists[step]) do roots[#roots + 1] = p end end
    closures[step] = M.closure(db, provides, roots)
    absent[step] = {}
    for _, p in ipairs(roots) do
      if not db[p] then table.insert(absent[step], p) end
    end
    complete[step] = #absent[step] == 0
  end
  -- The list that names a package (DEPS first: every step installs it).
  local function list_of(p)
    for _, l in ipairs { "DEPS", "VM_DEPS", "BENCH_DEPS" } do
      for _, x in ipairs(lists[l]) do if x == p then return l end end
    end
  end
  local problems, notes, rows, later = {}, {}, {}, {}
  for _, name in ipairs(order) do
    local r = res[name]
    local done = {}
    for _, use in ipairs(found[name]) do
      local step = use.step
      if not done[step] then
        done[step] = true
        local at = use.file .. ":" .. use.line
        local via
        for _, p in ipairs(r.pkgs or {}) do via = via or (closures[step][p] and { p, closures[step][p] }) end
        if via then
          local how = via[2] ~= "Essential" and (list_of(via[2]) or via[2])
            or (db[via[1]].essential and "Essential" or "needed by Essential packages")
          if via[2] ~= via[1] and via[2] ~= "Essential" then how = "via " .. via[2] .. ", " .. how end
          rows[#rows + 1] = { name, via[1], how }
        elseif r.missing and step ~= "DEPS" and not complete[step] then
          later[step] = later[step] or {}
          table.insert(later[step], ("%s (%s)"):format(name, at))
        elseif r.missing then
          local hint = #absent[step] > 0 and ("; or the lists name it but make deps has not run: " ..
            table.concat(absent[step], " ") .. " not installed") or ""
          problems[#problems + 1] = ("check-deps: %s (used at %s) is not installed on this machine " ..
            "(add its package to %s in the Makefile%s)"):format(name, at, step, hint)
        elseif not r.pkgs then
          problems[#problems + 1] = ("check-deps: %s (used at %s) is installed by no step (no package owns %s; " ..
            "add the package that installs it to %s in the Makefile)"):format(name, at, r.path, step)
        else
          problems[#problems + 1] = ("check-deps: %s (used at %s) is installed by no step (package %s; " ..
            "add it to %s in the Makefile)"):format(name, at, table.concat(r.pkgs, ", "), step)
        end
      end
    end
  end
  local target = { VM_DEPS = "make test-vm", BENCH_DEPS = "make bench" }
  for _, step in ipairs { "VM_DEPS", "BENCH_DEPS" } do
    if later[step] then
      notes[#notes + 1] = ("check-deps: not checked until %s is installed (%s installs it, then checks): %s")
        :format(step, target[step], table.concat(later[step], ", "))
    end
  end
  return problems, notes, rows
end

function M.main(argv)
  -- Default: the tree this file is in (TREE/tools/check-deps.lua).
  local here = (argv[0] or ""):match("^(.*)/[^/]*$") or "."
  local top = capture("cd " .. q(argv[1] or (here .. "/..")) .. " 2>/dev/null && pwd"):gsub("\n$", "")
  if top == "" then io.stderr:write("check-deps: no directory ", tostring(argv[1]), "\n"); return 2 end
  local problems, notes, rows = M.check(top)
  for _, l in ipairs(notes) do print(l) end
  if #problems > 0 then
    for _, l in ipairs(problems) do print(l) end
    return 1
  end
  local line, seen = {}, {}
  for _, r in ipairs(rows) do
    if not seen[r[1]] then
      seen[r[1]] = true
      line[#line + 1] = ("%s: %s (%s)"):format(r[1], r[2], r[3])
    end
  end
  print(("check-deps: %d commands, each installed by a step (command: package, from):"):format(#line))
  print("  " .. table.concat(line, "; "))
  return 0
end

if arg and arg[0] and arg[0]:match("check%-deps%.lua$") then os.exit(M.main(arg)) end
return M
