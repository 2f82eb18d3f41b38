# Owl's Ruby launcher. The actions-runtime proxy starts it once per container: it loads the action,
# acknowledges on file descriptor 3, then answers each activation (one line on stdin: a tag, a tab and
# the JSON message) with one line on descriptor 3 (the same tag, a tab and the JSON result), in the
# order they came. The action's output is the container's log.
#
# Checks and failures are those of OpenWhisk's `ruby:2.5` image, a Rack app under Puma
# (openwhisk-runtime-ruby core/ruby2.5Action: rackapp/init.rb, run.rb, runner.rb), which loads the
# action into a fresh `bundle exec ruby` at /init and at every run:
# - a zip needs main.rb at its root; one with a Gemfile needs vendor/cache, from which
#   `bundle install --local` installs its gems, and then runs with that bundle set up;
# - the code must compile (RubyVM::InstructionSequence.compile_file), then load and have a method
#   named by `main`;
# - `main` gets the parameters and returns a Hash or an Array; anything else (nil too) is refused;
#   an exception raised, or an `exit`, in `main` is the failure of the run.
# Those refusals and failures go to the proxy in upstream's words. This process lives on across runs
# (upstream's did not): the action's top-level code runs once, and an `exit` in `main` is caught
# rather than ending it. Plain code runs without Bundler: upstream's `bundle exec` with an empty
# Gemfile would hide the gems its image installs, which its documentation and tests say are there.
# A syntax error's details go to the log (upstream kept them in a file no one sees).
require 'json'

# The launcher's own names live in this module: the action defines its methods at the top level.
module OwlLauncher
  # The action's code cannot be built: upstream's /init refuses it before loading anything.
  class BuildError < StandardError; end

  # The action's code loads wrong: upstream's /init refuses it after trying to load it.
  class LoadFailure < StandardError; end

  # A result with only this key is a failure to run, answered with that message and an error status.
  DEVELOPER_ERROR = '__owl_developer_error'
  RUN_FAILED = 'Invalid Action: An error occurred running the action'
  NOT_A_DICTIONARY = 'The action did not return a dictionary or array.'

  module_function

  def answer(results, value, tag = nil)
    line = JSON.generate(value).b
    line = tag.b + "\t".b + line unless tag.nil?
    flush_output
    results.write(line + "\n".b)
    results.flush
  end

  def flush_output
    [$stdout, $stderr, STDOUT, STDERR].uniq.each do |io|
      io.flush
    rescue StandardError
      nil
    end
  end

  # Ruby's own report of an uncaught exception, without this launcher's frames.
  def report(error)
    trace = (error.backtrace || []).take_while { |frame| !frame.start_with?(__FILE__, '<internal:') }
    return "#{error.message} (#{error.class.name})\n" if trace.empty?

    error.set_backtrace(trace)
    error.full_message(highlight: false, order: :top)
  end

  # Takes the action a standby launcher waited for: where it is and its environment.
  def configure(line)
    c = JSON.parse(line)
    ENV['OW_ACTION_DIR'] = c['dir']
    ENV['OW_ACTION_MAIN'] = c['main'].to_s
    ENV['OW_ACTION_FILE'] = c['file'] if c['file']
    (c['env'] || {}).each do |key, value|
      ENV[key] = value.is_a?(String) ? value : JSON.generate(value)
    end
    Dir.chdir(c['dir'])
  end

  # A zip with a Gemfile: its gems are installed from its vendor/cache, without the network.
  def install_bundle(gemfile)
    unless File.directory?(File.join(File.dirname(gemfile), 'vendor', 'cache'))
      raise LoadFailure, 'Invalid Binary: vendor/cache folder is not found. Please make sure you have used valid zip binary.'
    end
    require 'open3'
    out, err, status = Open3.capture3({ 'BUNDLE_GEMFILE' => gemfile }, 'bundle', 'install', '--local')
    raise LoadFailure, "Invalid Binary: failed to resolve dependencies / #{out} / #{err}" unless status.success?
  end

  # What upstream's /init checks, in its order; then the action is loaded (a `require`, as
  # `ruby -r main.rb`) and its method found. Returns the method, or nil when the code exited
  # (status 0) while loading, which upstream's method check let pass.
  def load_action
    dir = ENV.fetch('OW_ACTION_DIR')
    name = ENV['OW_ACTION_MAIN'].to_s
    name = 'main' if name.empty?
    source = ENV['OW_ACTION_FILE'].to_s
    gemfile = nil
    if source.empty?
      source = File.join(dir, 'main.rb')
      gemfile = File.join(dir, 'Gemfile')
      gemfile = nil unless File.exist?(gemfile)
      install_bundle(gemfile) if gemfile
      raise BuildError, 'Invalid Ruby Code: zipped actions must contain main.rb at the root.' unless File.exist?(source)
    end
    begin
      RubyVM::InstructionSequence.compile_file(source)
    rescue SyntaxError, StandardError => e
      warn e.message
      raise BuildError, 'Invalid Ruby Code: failed to parse the input code'
    end
    begin
      if gemfile
        # What `bundle exec` does for upstream's runs: only the bundle's gems can be required.
        ENV['BUNDLE_GEMFILE'] = gemfile
        require 'bundler/setup'
      end
      require File.expand_path(source)
    rescue SystemExit => e
      raise LoadFailure, 'Invalid Ruby Code: method checking failed /  / ' unless e.success?

      return nil
    rescue SignalException
      raise
    rescue Exception => e # rubocop:disable Lint/RescueException -- anything the action's code raises
      raise LoadFailure, "Invalid Ruby Code: method checking failed /  / #{report(e)}"
    end
    begin
      TOPLEVEL_BINDING.receiver.method(name)
    rescue NameError => e
      # As Ruby reports upstream's `method(:main)` check, without hints pointing into this file.
      message = e.respond_to?(:original_message) ? e.original_message : e.message
      raise LoadFailure, "Invalid Ruby Code: method checking failed /  / #{message} (NameError)\n"
    end
  end

  # One activation: the context in the environment, `main` called, its result checked as upstream's
  # run.rb does (serialized with to_json, and that JSON must be an object or an array).
  def activate(handler, text)
    message = JSON.parse(text.force_encoding(Encoding::UTF_8), max_nesting: false)
    message.each do |key, value|
      ENV["__OW_#{key.upcase}"] = value if key != 'value' && value.is_a?(String)
    end
    return { DEVELOPER_ERROR => RUN_FAILED } if handler.nil?

    begin
      json = handler.call(message['value']).to_json
    rescue SystemExit
      return { DEVELOPER_ERROR => RUN_FAILED }
    rescue SignalException
      raise
    rescue Exception => e # rubocop:disable Lint/RescueException -- anything the action raises
      $stderr.write(report(e))
      return { DEVELOPER_ERROR => RUN_FAILED }
    end
    result = begin
      JSON.parse(json)
    rescue StandardError
      nil
    end
    return result if result.is_a?(Hash) || result.is_a?(Array)

    warn "Result must be an array but has type 'String': #{json}"
    { DEVELOPER_ERROR => NOT_A_DICTIONARY }
  end

  def serve
    results = IO.new(3, 'wb')
    results.sync = true
    results.close_on_exec = true
    # The protocol keeps stdin to itself: the action reads an empty one.
    input = STDIN.dup
    input.binmode
    STDIN.reopen(File::NULL)
    # The action's output reaches the log as it is written, even if a timeout ends this process.
    STDOUT.sync = true

    # Started with the container (OW_STANDBY), the first line names the action; otherwise it is known.
    if ENV['OW_STANDBY'] == '1'
      first = input.gets
      exit 0 if first.nil?
      configure(first)
    end

    begin
      handler = load_action
    rescue BuildError => e
      answer(results, { 'error' => e.message, 'stage' => 'build' })
      exit 1
    rescue LoadFailure => e
      answer(results, { 'error' => e.message })
      exit 1
    end
    answer(results, { 'ok' => true })

    while (line = input.gets)
      tag, text = line.chomp.split("\t", 2)
      answer(results, activate(handler, text), tag)
    end
  end
end

OwlLauncher.serve
