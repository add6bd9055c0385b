-- Drive agentls from Neovim's own LSP client (Neovim 0.7+: vim.lsp.start_client, vim.wait).
--
-- Run headless by tests/proof/test_proof_neovim.py:
--   nvim --headless --clean -c 'luafile tests/proof/nvim_agent.lua'
-- with AGENTLS_PROOF_CONFIG naming a JSON file:
--   {phase = "send" | "resume", python, workspace, out, env = {...}}
-- Phase "send": a turn; a `slow:` turn cancelled with client.cancel_request(id) once its
-- first textDelta arrived; one more turn. Phase "resume": agent/resume in a fresh editor.
-- The results are written as JSON to `out`; Neovim always quits, whatever happened.

local WAIT_MS = 20000

local function read_config()
  local path = os.getenv("AGENTLS_PROOF_CONFIG")
  assert(path, "AGENTLS_PROOF_CONFIG is not set")
  return vim.fn.json_decode(table.concat(vim.fn.readfile(path), "\n"))
end

local cfg = read_config()
local out = { phase = cfg.phase, nvim = vim.version() }

local function write_out()
  vim.fn.writefile({ vim.fn.json_encode(out) }, cfg.out)
end

local function main()
  local events = {}
  local deltas = 0
  local on_delta = nil -- set by the cancel step
  local exited = nil
  local initialized = false

  local client_id = vim.lsp.start_client({
    name = "agentls",
    cmd = { cfg.python, "-m", "agentls", "serve" },
    cmd_cwd = cfg.workspace,
    cmd_env = cfg.env,
    root_dir = cfg.workspace,
    workspace_folders = { { uri = vim.uri_from_fname(cfg.workspace), name = "work" } },
    init_options = { approvals = true, approval = "never-ask", retryBaseDelayS = 0 },
    handlers = {
      ["agent/event"] = function(_, params)
        table.insert(events, params.type)
        if params.type == "textDelta" then
          deltas = deltas + 1
          if on_delta then
            on_delta(params)
          end
        end
      end,
      ["agent/sessionsChanged"] = function() end,
      ["agent/requestApproval"] = function()
        return { decision = "approve" }
      end,
    },
    on_init = function(_, result)
      initialized = true
      out.capabilities = result.capabilities.experimental
    end,
    on_exit = function(code, signal)
      exited = { code = code, signal = signal }
    end,
  })
  assert(client_id, "vim.lsp.start_client failed")
  assert(vim.wait(WAIT_MS, function() return initialized end, 10), "no initialize result")
  local client = vim.lsp.get_client_by_id(client_id)

  -- one request, waited for; counts how often its handler runs (must be exactly once)
  local function request(method, params)
    local answer = { calls = 0 }
    local ok, id = client.request(method, params, function(err, result)
      answer.calls = answer.calls + 1
      answer.err = err
      answer.result = result
    end)
    assert(ok, "client.request refused " .. method)
    answer.id = id
    return answer
  end

  local function wait_answer(answer)
    return vim.wait(WAIT_MS, function() return answer.calls > 0 end, 5)
  end

  if cfg.phase == "send" then
    local first = request("agent/send", { text = "hello from neovim" })
    assert(wait_answer(first), "no answer to the first send")
    out.first = first

    -- cancel with Neovim's own $/cancelRequest once the first delta has arrived
    local slow = nil
    local cancel_sent_after = nil
    on_delta = function()
      if slow and cancel_sent_after == nil then
        cancel_sent_after = deltas
        client.cancel_request(slow.id)
      end
    end
    slow = request("agent/send", { text = "slow: 0.05" })
    assert(wait_answer(slow), "no answer to the cancelled send")
    on_delta = nil
    vim.wait(300, function() return false end, 10) -- a second answer would arrive here
    out.cancelled = slow
    out.cancel_sent_after_deltas = cancel_sent_after

    local after = request("agent/send", { text = "after the cancel" })
    assert(wait_answer(after), "no answer to the send after the cancel")
    out.after = after
  else
    local resumed = request("agent/resume", vim.empty_dict())
    assert(wait_answer(resumed), "no answer to agent/resume")
    out.resumed = resumed
    local next_turn = request("agent/send", { text = "after the resume" })
    assert(wait_answer(next_turn), "no answer to the send after the resume")
    out.next_turn = next_turn
  end

  out.events = events
  client.stop()
  out.stopped = vim.wait(WAIT_MS, function() return exited ~= nil end, 10)
  out.exit = exited
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  out.error = tostring(err)
end
pcall(write_out)
vim.cmd("qa!")
